flow --top 1 --json basic.plw
