"""Signal simulators with exact, known answers (analytic force curves, jumps, sway, IMU motion) for tests, demos and simulated devices."""
