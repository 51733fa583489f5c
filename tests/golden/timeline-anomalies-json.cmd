timeline --json --pid 100 anomalies.plw
