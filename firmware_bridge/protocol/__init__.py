"""Host <-> MCU serial protocol: frame codec and message layouts, shared with the firmware."""
