"""Troubleshooting: checks that explain (interface errors, duplex, flaps, neighbours, routing
adjacencies), the path between two devices, and read-only lookups run from a device."""
