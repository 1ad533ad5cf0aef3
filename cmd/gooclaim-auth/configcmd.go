package main

import (
	"fmt"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newConfigCmd(e *env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration serve runs with",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigPrintCmd(e, g))
	return cmd
}

// configSetting is one line of config print.
type configSetting struct {
	Setting string `json:"setting"`
	Value   string `json:"value"`
	Source  string `json:"source"`
}

func newConfigPrintCmd(e *env, g *globalFlags) *cobra.Command {
	c := defaultServeConfig()
	var output string
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print serve's effective configuration: each setting, its value and where it comes from",
		Long: `Print the configuration serve would run with, given the same flags,
environment and configuration file: each setting with its value and its
source — flag, env GOOCLAIM_<FLAG>, file PATH:LINE, or default. Passwords in
the database and Redis URLs are redacted; the key-encryption key is shown as
its file's path, never its content.

The settings are checked as serve checks them: problems are listed on
standard error and the exit code is 1.

  gooclaim-auth config print --config gooclaim-auth.yaml --env production`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{serveScoped: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			invalid := c.validate(g)
			rows := effectiveSettings(cmd, c, g)
			if output == "json" {
				if err := writeJSON(e.stdout, rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Setting, orDefault(r.Value, "-"), r.Source)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return invalid
		},
	}
	addServeFlags(cmd.Flags(), c)
	addOutputFlag(cmd, &output)
	return cmd
}

// effectiveSettings lists --config, then every setting a configuration
// file may hold, in name order.
func effectiveSettings(cmd *cobra.Command, c *serveConfig, g *globalFlags) []configSetting {
	rows := []configSetting{{"config", g.config, g.settings.source("config").String()}}
	for _, name := range settingNames() {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			continue
		}
		rows = append(rows, configSetting{name, displayValue(name, f.Value.String(), c, g), g.settings.source(name).String()})
	}
	return rows
}

// displayValue is how config print shows a value: without passwords, and
// with what serve derives from an unset issuer or key-encryption key.
func displayValue(name, v string, c *serveConfig, g *globalFlags) string {
	switch name {
	case "database", "redis-url":
		return redactURL(v)
	case "issuer":
		if v == "" {
			port := "<port>"
			if _, p, err := net.SplitHostPort(c.listen); err == nil && p != "0" && p != "" {
				port = p
			}
			return c.scheme() + "://localhost:" + port
		}
	case "key-encryption-key-file":
		if v == "" && !isPostgres(g.database) {
			if strings.Contains(g.database, ":") { // sqlite:, file: forms
				return "(beside the SQLite database, created if missing)"
			}
			return defaultKEKPath(g.database) + " (created if missing)"
		}
	}
	return v
}
