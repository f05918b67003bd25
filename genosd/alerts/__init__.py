"""Alerts: rules over metrics, device states and events; silences and maintenance windows."""
