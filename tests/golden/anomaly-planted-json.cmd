anomaly --json ana-anomaly.plw
