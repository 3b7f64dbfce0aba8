"""Door I/O for menwei: relay and inputs, Wiegand in/out, the MCU protocol and its firmware."""
