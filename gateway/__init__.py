"""menwei gateway: the runtime beside the door (camera, vision, access, events, store, CLI)."""

__version__ = "0.1.0"
