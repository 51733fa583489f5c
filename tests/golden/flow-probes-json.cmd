flow --json probes.plw
