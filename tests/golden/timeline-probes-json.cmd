timeline --json probes.plw
