anomaly --baseline ana-anomaly.plw basic.plw
