"""Alarms: the shared vocabulary (model.py) and the pure rules that raise them."""
