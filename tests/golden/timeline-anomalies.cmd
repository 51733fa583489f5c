timeline anomalies.plw
