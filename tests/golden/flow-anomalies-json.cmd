flow --all --json anomalies.plw
