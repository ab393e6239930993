module github.com/shopsso/sso

go 1.26.8

require github.com/alexedwards/scs/v2 v2.9.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
