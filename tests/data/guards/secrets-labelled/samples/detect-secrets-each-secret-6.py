aws_access_key = 'AKIAIOSFODNN7EXAMPLE'
