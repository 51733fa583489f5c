slow --threshold 0 anomalies.plw
