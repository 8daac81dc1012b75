basic_auth = 'http://username:whywouldyouusehttpforpasswords@example.com'
