"""The web console's pages (/ui on the operators' listener): server-rendered HTML from the same engine functions
the management API uses, Chinese by default and English with ?lang=en (remembered in a cookie)."""
