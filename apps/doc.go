// Package apps is the app registry of pgschemas. An app is a folder that declares the tables it
// wants in Atlas HCL or in plain SQL DDL; a pgschemas.hcl config assigns apps to public, to static
// tenants and to dynamic tenants. (Being built: see the engine issue.)
package apps
