"""Signal simulators with exact, known answers, for tests, demos and simulated devices.

Modules: ``force`` (analytic force curves), ``jumps`` (jumps with known take-off velocity), ``sway`` (COP and
plate signals), ``imu`` (IMU motion with known orientation).
"""
