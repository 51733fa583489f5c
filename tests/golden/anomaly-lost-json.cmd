anomaly --json lost.plw
