flow --all anomalies.plw
