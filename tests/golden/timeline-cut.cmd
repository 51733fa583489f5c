timeline --threshold 1.5 cut.plw.partial
