timeline probes.plw
