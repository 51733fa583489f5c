graph anomalies.plw
