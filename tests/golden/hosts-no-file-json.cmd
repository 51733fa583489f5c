hosts --json net-a.plw nope.plw
