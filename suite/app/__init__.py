"""The application layer: one service method per use case, called by every entry point."""
