flow --top 3 basic.plw anomalies.plw
