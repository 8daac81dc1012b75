red_herring = 'DEADBEEF'
