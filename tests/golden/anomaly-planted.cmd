anomaly ana-anomaly.plw
