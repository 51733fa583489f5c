info anomalies.plw
