info cut.plw.partial
