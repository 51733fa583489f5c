flow probes.plw
