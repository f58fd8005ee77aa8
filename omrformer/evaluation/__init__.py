"""Evaluation: SER and per-class precision/recall on tokens, OMR-NED on MusicXML, validity rates.

Nothing here imports torch; experiments/evaluate.py runs a model and feeds these functions.
"""
