anomaly anomalies.plw
