"""Camera capture: V4L2, RTSP, video files and image folders; newest frame wins; tamper checks.

The runtime uses `gateway.camera.runtime.Camera`, built from `gateway.config.camera.CameraConfig`.
The parts stand alone too: `factory.build_source` / `source.FrameSource`,
`capture.CameraCapture`, `health.CameraHealthMonitor`, `watchdog.HealthWatchdog`. Nothing is
imported here, so loading the config schema does not pull in OpenCV.
"""
