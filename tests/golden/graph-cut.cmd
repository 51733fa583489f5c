graph cut.plw.partial
