"""The on-device benchmark (`menwei bench`): stage latencies, frame rate, 1:N search scaling, cold
start and memory, optionally against OpenCV's own YuNet."""
