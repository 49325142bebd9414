"""The offline prior's world: a small language of shapes, colors and relations (``vocabulary``,
``prompt``), analytic SDF scenes in engine coordinates (``sdf``, ``shapes``, ``scene``), a
sphere tracer with the engine's cameras and shading (``raymarch``), cached image sets
(``image_set``), the closed-form denoiser (``denoiser``) and ground-truth meshes (``ground_truth``).
The prior itself is engine/guidance/procedural.py."""
