stitch --services svc-x,svc-c net-b.plw net-c.plw
