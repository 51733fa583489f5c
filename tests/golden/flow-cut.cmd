flow --all cut.plw.partial
