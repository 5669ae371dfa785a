"""What both training loops use: optimizer and schedule, clipping, seeding, device, threads,
progress, Ctrl-C, the distributed context and the run-folder writer."""
