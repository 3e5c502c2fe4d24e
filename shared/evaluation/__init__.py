"""Evaluation of a checkpoint with an independent judge (dlib) and detector (YuNet)."""
