"""The app: sensor sources, capture thread, recognition worker and the Qt overlay."""
