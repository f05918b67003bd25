"""The plugin host: discovery through entry points, per-plugin settings, isolation, runtime."""
