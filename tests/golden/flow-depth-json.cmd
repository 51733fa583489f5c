flow --top 1 --depth 1 --min-ms 10 --json basic.plw
