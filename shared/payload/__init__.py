"""A sealed identity code per track, carried in the pixels of the public clip (issue 11).

The chain, one concept per module:

- ``code``: the track's face as a compact code (a 32 px WebP thumbnail, a few hundred bytes);
- ``cipher``: the code sealed with AES-256-GCM-SIV under HKDF(secret, clip id, track id); the
  cleartext header (version, key id, clip id, track id, code format) is the associated data;
- ``ecc``: Reed-Solomon blocks over the sealed message, soft decisions and erasures;
- ``lattice`` and ``qim``: the watermark channel, dither modulation of smooth cell projections on
  the luma plane, on a lattice of square cells anchored at the frame origin;
- ``embed`` and ``extract``: a track's codeword bits into frames, and back from a re-encoded clip;
- ``evidence`` and ``llr_model``: how much each observation counts (analytic, or a learned
  calibration fitted on synthetic scenes through real libx264);
- ``carrier``: the whole chain for one track (face -> bits, soft bits -> face).

Format, figures and limits: ``docs/PAYLOAD.md``.

No module here imports the video pipeline; it works on numpy frames and boxes.
"""
