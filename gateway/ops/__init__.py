"""Running like an appliance: sd_notify and the watchdog, JSON logs, metrics and telemetry,
retention jobs, `menwei doctor`, and the configuration reference generator."""
