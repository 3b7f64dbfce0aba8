"""Camera capture: V4L2, RTSP, video files and image folders; newest frame wins; tamper checks."""
